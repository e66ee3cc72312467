"""The suite's library: target model, clients, polling, thresholds and redaction."""
