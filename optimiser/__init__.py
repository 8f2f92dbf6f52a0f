"""contact-plan's optimiser: pre-filter, model, CP-SAT solve, reasons, plan, verifier, CLI."""
