"""The middle of Tandem: one run, one tool executor, the rules engine and the agent loop."""
