"""Reading user inputs (txt, jsonl, csv/tsv, parquet) and writing vector files atomically."""
