"""Pure logic on DataFrames: no Dagster or Streamlit import, no side effect at import."""
