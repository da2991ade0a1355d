"""The tool layer every step stands on: the command line, reuse stamps, device, threads and progress."""
