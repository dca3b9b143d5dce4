"""Datasets, schemas, splits and reversible transforms."""

from augment.data.schema import ColumnSpec, TableSchema, infer_schema
from augment.data.sources import BUILTIN, Dataset, load_dataset, make_dataset
from augment.data.split import limit_per_class, stratified_split, thin_classes
from augment.data.transformers import ImageTransformer, Span, TableTransformer

__all__ = [
    "BUILTIN",
    "ColumnSpec",
    "Dataset",
    "ImageTransformer",
    "Span",
    "TableSchema",
    "TableTransformer",
    "infer_schema",
    "limit_per_class",
    "load_dataset",
    "make_dataset",
    "stratified_split",
    "thin_classes",
]
