"""What builds the book: the Sphinx extension, the result cache, provenance, the toc."""
