"""Pure summary builders: numbers in, encoded Summary/Event bytes out."""
