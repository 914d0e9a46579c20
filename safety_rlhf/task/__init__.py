"""The task's vocabulary, below every other layer: the response strategies and their
rendering, the gold tables (reward, success, cost of each label x strategy) and the safety
metrics. Every layer above (``data``, ``reward``, ``envs``, ``agents``, ``experiments``)
speaks in these terms; this package imports none of them."""
