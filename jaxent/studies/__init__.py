"""Sweep registrations (:class:`jaxent.sweep.Study`), one module per model. Adding a model to
the CLI and the sweep engine means adding one module here."""
