"""One error type for everything a user can fix by changing their input."""


class InputError(Exception):
    """Bad input. The message is one line naming the file and the fix."""

    def __init__(self, path, problem: str, fix: str):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}; {fix}")
