"""Variable substitution in Dockerfile words, as Docker's shell lexer does it.

A port of the rules of moby/buildkit's frontend/dockerfile/shell (the version Docker
20.10's classic builder uses): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}`, single
and double quotes, the escape character (`\\` or the one `# escape=` chose). The
environment is a list of "KEY=value" strings; the first match wins (ENV before ARG).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

EOF_CHAR = ""
SPECIAL_PARAMS = set("@*#?-$!0")


class _Words:
    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Lexer:
    def __init__(self, source: str, env: list[str], escape: str) -> None:
        self.source = source
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else EOF_CHAR

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def lookup(self, name: str) -> tuple[str, bool]:
        for item in self.env:
            key, sep, value = item.partition("=")
            if key == name:
                return (value if sep else ""), True
        return "", False

    def process_stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self.peek() != EOF_CHAR:
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch in ("'", '"', "$"):
                text = {"'": self.single_quote, '"': self.double_quote, "$": self.dollar}[ch]()
                result.append(text)
                if ch == "$":
                    words.add_string(text)
                else:
                    words.add_raw(text)
                continue
            ch = self.next()
            if ch == self.escape:
                ch = self.next()
                if ch == EOF_CHAR:
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise InvalidArgument(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == EOF_CHAR:
                raise InvalidArgument(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == EOF_CHAR:
                raise InvalidArgument(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if following == EOF_CHAR:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        out: list[str] = []
        while self.peek() != EOF_CHAR:
            ch = self.peek()
            if not out and ch.isdigit():
                while self.peek() != EOF_CHAR and self.peek().isdigit():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalpha() or ch.isdigit() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()
        if self.peek() == EOF_CHAR:
            raise InvalidArgument("syntax error: missing '}'")
        if self.peek() in ("{", "}", ":"):
            raise InvalidArgument("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.lookup(name)[0]
        if ch == ":":
            modifier = self.next()
            try:
                word, _ = self.process_stop_on("}")
            except InvalidArgument:
                if self.peek() == EOF_CHAR:
                    raise InvalidArgument("syntax error: missing '}'") from None
                raise
            value, _found = self.lookup(name)
            if modifier == "+":
                return word if value else value
            if modifier == "-":
                return value or word
            raise InvalidArgument(f"unsupported modifier ({modifier}) in substitution")
        raise InvalidArgument("missing ':' in substitution")


def process_word(word: str, env: list[str], escape: str = "\\") -> str:
    """One word with variables substituted and quotes removed."""
    return _Lexer(word, env, escape).process_stop_on("")[0]


def process_words(word: str, env: list[str], escape: str = "\\") -> list[str]:
    """Words split at unquoted white space after substitution (EXPOSE's expansion)."""
    return _Lexer(word, env, escape).process_stop_on("")[1]
