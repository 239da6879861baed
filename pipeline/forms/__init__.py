"""Building the personalised CLB0.01 workbook: the layout contract, the reference builder and the fast path."""
