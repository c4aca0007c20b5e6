"""Demo data: a realistic hub-and-spoke network and its patients' flows, seeded through the
ledger's own commands (``regentrace demo``). ``network`` seeds the sites and then the flows of
``chain``. Nothing in the product imports this package; it is for trying the service out, the
tests and the benchmark."""
