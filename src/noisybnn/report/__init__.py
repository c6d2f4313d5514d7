"""HTML report: sweep measurements beside the theory's bounds and predictions.

    >>> from noisybnn.report import build_report, screenshot
    >>> index = build_report(["results/sweep.csv"], "results/report")
    >>> screenshot(index, "results/report/page.png")

Sections: accuracy vs eps (measured, predicted, Fano/SDPI ceiling), per-layer flip rates
(measured vs mean field), neurons required vs depth, stuck-at faults vs certified bounds,
binarization geometry, and the design space of an exploration table. Every number is computed from
the inputs; report.json holds the numbers the page shows.
"""

from noisybnn.report.browser import screenshot
from noisybnn.report.build import DEFAULT_TITLE, build_report, cli_report
from noisybnn.report.inputs import load_explore, load_results
from noisybnn.report.options import ReportOptions

__all__ = ["DEFAULT_TITLE", "ReportOptions", "build_report", "cli_report", "load_explore",
           "load_results", "screenshot"]
