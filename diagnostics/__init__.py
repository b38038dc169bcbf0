"""fcp-doctor's headless core: inputs, the decision tree, probes, the engine and reports.

Never imports textual (a test checks it).
"""

__version__ = "0.1.0"
