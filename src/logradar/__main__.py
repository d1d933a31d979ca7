"""``python -m logradar`` is the ``logradar`` command."""

from logradar.cli import main

main(prog_name="logradar")
