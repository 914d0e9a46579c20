"""The studies of ``SafetyRLHF-Text-v0`` (``safety-rlhf text-study``)."""

from safety_rlhf.experiments.text_study.cli import add_text_study_parser

__all__ = ["add_text_study_parser"]
