"""The Textual application. The only package in the project that imports ``textual``."""
