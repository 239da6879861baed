"""What the partnership and each leader get from a night's returns: aggregate (pandas tables), suppress
(anonymity), publication (when the shareable figures may change), comparison (the workbook), letters."""
