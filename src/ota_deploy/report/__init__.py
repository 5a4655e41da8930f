"""What a run leaves behind: results.csv, report.json, report.html and JUnit XML."""
