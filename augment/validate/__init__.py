"""The validation gate: Great Expectations suite + fidelity, privacy and utility metrics."""
