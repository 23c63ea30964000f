"""What the office receives as documents: the digest's texts, chart and workbook, and the report
and duty workbooks.
"""
