# Reports as files (CSV, Excel) and the chart: headers, outcomes, sheet names.
# Sheet names: at most 31 characters (Excel's limit).

export-box = Mã loa
export-commune = Xã
export-boxes = Số loa
export-date = Ngày
export-scheduled = Đã lên lịch
export-aired = Đã phát
export-late = Trễ
export-missed = Bỏ lỡ
export-failed = Lỗi
export-interrupted = Bị ngắt
export-minutes = Số phút đã phát
export-share = Tỉ lệ phát (%)
export-scheduled-at = Giờ dự kiến
export-started = Giờ bắt đầu
export-ended = Giờ kết thúc
export-programme = Chương trình
export-outcome = Kết quả
export-detail = Ghi chú
export-unknown = Không rõ
export-total = Tổng cộng
export-sheet-boxes = Theo loa
export-sheet-communes = Theo xã
export-sheet-days = Theo ngày
export-chart-title = Phát thanh theo ngày
export-chart-aired = Đã phát
export-chart-not-aired = Bỏ lỡ hoặc lỗi
