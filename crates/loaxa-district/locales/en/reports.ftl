# Reports as files (CSV, Excel) and the chart: headers, outcomes, sheet names.
# Sheet names: at most 31 characters (Excel's limit).

export-box = Box
export-commune = Commune
export-boxes = Boxes
export-date = Date
export-scheduled = Scheduled
export-aired = Aired
export-late = Late
export-missed = Missed
export-failed = Failed
export-interrupted = Interrupted
export-minutes = Minutes aired
export-share = Share aired (%)
export-scheduled-at = Scheduled
export-started = Started
export-ended = Ended
export-programme = Programme
export-outcome = Outcome
export-detail = Detail
export-unknown = Unknown
export-total = Total
export-sheet-boxes = By box
export-sheet-communes = By commune
export-sheet-days = By day
export-chart-title = Broadcasts by day
export-chart-aired = Aired
export-chart-not-aired = Missed or failed
