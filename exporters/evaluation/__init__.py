"""Retrieval evaluation from trace files: the retrievals data set, ground truth, metrics by doc_uri and the HTML report."""

from exporters.evaluation.dataset import iter_retrievals, request_text, write_retrievals
from exporters.evaluation.ground_truth import GroundTruth, GroundTruthError, load_ground_truth
from exporters.evaluation.metrics import Evaluation, evaluate, retrieval_metrics, write_json
from exporters.evaluation.report_html import write_html

__all__ = [
    "Evaluation",
    "GroundTruth",
    "GroundTruthError",
    "evaluate",
    "iter_retrievals",
    "load_ground_truth",
    "request_text",
    "retrieval_metrics",
    "write_html",
    "write_json",
    "write_retrievals",
]
