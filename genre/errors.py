"""User-facing errors: one sentence naming the problem and the fix, never a traceback."""


class GenreError(Exception):
    """A problem with the user's input or configuration that they can fix.

    Entry points catch it, print its message on one line and exit with status 2.
    """


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse a config value outside its known options, naming them."""
    if value not in choices:
        raise GenreError(f"Unknown {name} '{value}': choose one of {', '.join(choices)}.")
