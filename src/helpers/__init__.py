"""Helpers for the ecommerce-customer-segmentation notebooks.

Small, tested functions: params (`config`), loading exports (`io`), cleaning rules
(`clean`), exploratory aggregates and plots (`eda`) and the notebook runner (`runner`).
"""

__version__ = "0.1.0"
