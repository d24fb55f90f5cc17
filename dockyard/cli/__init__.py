"""The command line: argparse commands over the Engine; output formatting lives here."""
