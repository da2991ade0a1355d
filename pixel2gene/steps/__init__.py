"""One module per pipeline step: an Args dataclass (the tool's CLI) and run(args)."""
