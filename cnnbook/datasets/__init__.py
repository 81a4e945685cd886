"""The book's data sets: the registry (locate, verify, download) and one module per data set."""
