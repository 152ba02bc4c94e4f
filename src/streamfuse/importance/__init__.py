"""Stream importance: which stream carries the most information, measured several ways.

    >>> from streamfuse.importance import stream_importance
    >>> report = stream_importance(head, (streams, labels))     # doctest: +SKIP
    >>> print(report.verdict)                                    # doctest: +SKIP

One concept per file: ``inputs`` (checking data, stream order, baselines), ``coalitions`` (the
coalition game ``v(T)`` over the data, cached), ``shapley`` (exact and sampled Shapley values, and
why Captum is not the main path), ``bootstrap`` (95% intervals over resampled test rows: ties and
whether a ranking is settled), ``spearman`` (rank correlation without scipy), ``result``
(``StreamImportance``, agreement and verdict), ``api`` (``stream_importance``).
"""

from .api import METHODS, stream_importance
from .result import StreamImportance
from .spearman import average_ranks, spearman

__all__ = ["METHODS", "StreamImportance", "average_ranks", "spearman", "stream_importance"]
