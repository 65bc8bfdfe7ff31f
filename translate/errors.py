"""User-facing errors. The CLI prints their message on one line and exits non-zero, without a traceback."""


class TranslateError(Exception):
    """An error the user can fix: the message names the file or option and says what to do."""


class ConfigError(TranslateError):
    """A config key or value is unknown or invalid; the message names its dotted path."""


class DataError(TranslateError):
    """A dataset folder is missing, empty or laid out wrongly; the message shows the expected layout."""


class CheckpointError(TranslateError):
    """A checkpoint is missing, unreadable or lacks what a command needs."""
