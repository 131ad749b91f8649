"""The one error type for bad input data."""


class DataError(ValueError):
    """A dataset file is missing, truncated, malformed or holds values outside its vocabulary.

    The message is one sentence that names the file and what is wrong with it.
    """


def reason(err: BaseException) -> str:
    """The message of a library's exception on one line, to quote inside a DataError."""
    return " ".join(str(err).split()) or type(err).__name__
