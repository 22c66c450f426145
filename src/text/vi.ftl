# What the box's commands say to the commune's operator (cán bộ đài truyền thanh xã).
# Plain words: no field names, no units of the sound trade. Times are HH:MM, days dd/mm/yyyy.

error = Lỗi: { $reason }
warning = Lưu ý: { $warning }
moved = Lệnh `loaxa { $command }` nay là `loaxa-district { $command }`, công cụ của cơ quan cấp trên (gói loaxa-district); máy ở cụm loa không có lệnh này.

day = { $weekday } { $date }
moment = { $time } { $day }
weekday-mon = thứ Hai
weekday-tue = thứ Ba
weekday-wed = thứ Tư
weekday-thu = thứ Năm
weekday-fri = thứ Sáu
weekday-sat = thứ Bảy
weekday-sun = Chủ nhật

when-not-a-time = “{ $text }” không phải giờ. Hãy viết giờ như 17:30, 17h30 hoặc 7h (từ 00:00 đến 23:59).
when-not-a-date = “{ $text }” không phải ngày. Hãy viết ngày như 02/12/2026 hoặc 2026-12-02.
when-not-a-moment = Không hiểu “{ $text }”. Hãy viết giờ (17:30), hoặc giờ và ngày (17:30 02/12/2026).
when-past = { $when } đã qua (bây giờ là { $now }); hãy chọn một giờ sắp tới.

level-normal = mức thường
level-priority = mức ưu tiên
level-emergency = mức khẩn cấp

origin-district = cấp trên gửi
origin-commune = lịch của xã
origin-box = gửi riêng cho cụm loa này
origin-local = đặt trên máy
origin-operator = phát ngay từ máy

outcome-airing = đang phát
outcome-aired = đã phát
outcome-missed = bỏ lỡ
outcome-failed = lỗi
outcome-interrupted = bị ngắt

daemon-refused = Máy phát thanh không làm: { $reason }
daemon-mismatched = Máy phát thanh trả lời không đúng câu hỏi (có thể khác phiên bản; hãy khởi động lại nó: sudo systemctl restart loaxa): { $answer }
daemon-mismatched-next = Máy phát thanh trả lời không đúng câu hỏi (có thể khác phiên bản; hãy khởi động lại nó: sudo systemctl restart loaxa).
file-missing = Không có tệp { $file }.

status-box = Cụm loa { $box }
status-link = Kết nối với trung tâm
status-volume = Âm lượng
status-windows = Giờ được phát
status-disk = Bộ nhớ còn trống
status-disk-unknown = không rõ
status-disk-gb = { $gb } GB
status-on-air = Đang phát
status-cut = (bị ngắt, sẽ phát tiếp sau: { $programme })
status-next = Sắp phát
status-problems = Sự cố gần đây
status-nothing = không có
status-none = không có
link-none = không có (cụm loa chạy riêng, theo lịch trên máy)
link-connected = đã kết nối
link-disconnected = mất kết nối (đang thử lại)
upcoming = { $when }  { $what }  [{ $origin }]

today-nothing-yet = Hôm nay chưa phát gì.
today-nothing-more = Hôm nay không còn gì để phát.
today-still-to-come = Còn phát hôm nay:

next-nothing = Không có gì sắp phát.
next-daemon-down = Máy phát thanh đang không chạy: dưới đây chỉ là các tệp lịch trên máy, chưa có lịch cấp trên gửi và chương trình đặt trên máy.
next-skipped = Bỏ qua: { $problem }

stop-done = Đang dừng chương trình đang phát.
volume-bad = “{ $text }” không phải mức âm lượng: hãy ghi một số từ 0 đến 100, ví dụ 60 hoặc 60%.
volume-set = Đã đặt âm lượng: { $percent }%.
volume-now = { $by ->
    [district] Âm lượng hiện tại: { $percent }%, do cấp trên đặt.
    [operator] Âm lượng hiện tại: { $percent }%, đặt trên máy này.
   *[default] Âm lượng hiện tại: { $percent }%, chưa ai đổi.
}
play-now-on-air = Đang phát ngay: { $item } ({ $level }).
play-now-queued = Đã xếp hàng: { $item } ({ $level }) sẽ phát khi chương trình đang phát kết thúc.

program-exists = Đã có chương trình “{ $id }”. Thêm --replace để thay nó, hoặc đặt mã khác bằng --id.
program-added = Đã thêm chương trình “{ $title }” ({ $id }): sẽ phát lúc { $when }.
program-added-never = Đã thêm chương trình “{ $title }” ({ $id }), nhưng nó không còn giờ phát nào sắp tới.
program-same-minute = Lưu ý: cùng phút đó còn có { $other }; chương trình sau sẽ chờ chương trình trước phát xong.
program-none = Chưa có chương trình nào đặt trên máy này.
program-column-id = Mã
program-column-state = Trạng thái
program-column-next = Lần phát tới
program-enabled = đang bật
program-disabled = đã tắt
program-removed = Đã xoá chương trình { $id }.
program-enable-done = Đã bật chương trình { $id }.
program-disable-done = Đã tắt chương trình { $id } (vẫn giữ lại; bật lại bằng: loaxa program enable { $id }).

log-none-yet = Chưa có nhật ký phát thanh trong { $dir }.
log-empty = Không có lần phát nào trong khoảng này.
log-column-scheduled = Giờ theo lịch
log-column-programme = Chương trình
log-column-started = Bắt đầu
log-column-ended = Kết thúc
log-column-result = Kết quả
log-column-detail = Ghi chú
log-attempt = { $outcome } (lần { $attempt })

validate-ok = { $file }: không có lỗi ({ $count } chương trình)
validate-problems = Có { $count } lỗi cần sửa.
validate-no-files = Không có tệp lịch nào (tệp .toml) trong { $where }.

play-bad-volume = Âm lượng { $volume } không hợp lệ: hãy ghi từ 0.0 đến 1.0.
play-to = Đang phát ra { $output }
play-player-stopped = Bộ phát dừng bất ngờ.
play-item-failed = { $item }: không phát được: { $reason }
play-nothing = Không phát được tệp nào.
output-unavailable = Không mở được đầu ra âm thanh { $output }: { $reason }
devices-none = Máy không có thiết bị phát âm thanh nào (dùng --output wav:TỆP hoặc null).
demo-as-run = Nhật ký phát thanh:

# The one-line summaries of `loaxa --help` and `loaxa COMMAND --help`.
help-loaxa = Máy phát thanh của cụm loa xã: phát lịch đúng giờ, cả khi mất mạng
help-daemon = Chạy dịch vụ phát thanh: phát các lịch đúng giờ (SIGTERM dừng, SIGHUP nạp lại lịch)
help-demo = Phát thử một chương trình sau vài giây, với thư mục schedules/ và audio/ đi kèm
help-validate = Kiểm tra tệp lịch: báo từng lỗi, với tệp, dòng và chỗ sai
help-next = Những gì sắp phát: lịch cấp trên gửi, lịch của xã và chương trình đặt trên máy
help-play = Phát ngay các tệp (hoặc chime) để thử loa, không qua dịch vụ phát thanh
help-log = Nhật ký phát thanh: đã phát, bỏ lỡ hay lỗi, và lúc nào
help-devices = Liệt kê các thiết bị phát âm thanh
help-status = Đang phát gì, sắp phát gì, kết nối, bộ nhớ, sự cố gần đây
help-today = Hôm nay: đã phát gì, bỏ lỡ gì và vì sao, còn gì sắp phát
help-stop = Giảm dần rồi dừng chương trình đang phát
help-volume = Xem âm lượng, hoặc đặt âm lượng từ 0 đến 100 (60 hoặc 60%)
help-play-now = Phát ngay một tệp hay một bản tin (sau tiếng chuông), theo quy tắc ưu tiên
help-program = Các chương trình đặt trên máy
help-program-add = Thêm chương trình phát TỆP vào giờ đã định (--at hoặc --cron)
help-program-list = Các chương trình đặt trên máy, và lần phát tới của mỗi chương trình
help-program-remove = Xoá một chương trình đặt trên máy
help-program-enable = Bật lại một chương trình đã tắt
help-program-disable = Tắt một chương trình (vẫn giữ lại)
help-usage = Cách dùng

# Why a programme aired late, was missed, failed or was cut: `today`, `log`, `status`.
span-seconds = { $seconds } giây
span-minutes = { $minutes } phút
span-minutes-seconds = { $minutes } phút { $seconds } giây
reason-late = trễ { $span }
reason-waited-for-the-air = trễ { $span } vì chờ chương trình trước phát xong
reason-retried = phát lại từ đầu (trễ { $span }) sau khi bị ngắt
reason-past-catch-up = đã quá giờ hơn { $span } (máy tắt hoặc đang bận)
reason-superseded = lần phát lúc { $time } của cùng chương trình cũng đã đến giờ nên phát thay
reason-outside-windows = { $time } nằm ngoài giờ được phát ({ $windows }); ngoài giờ chỉ phát tin khẩn cấp
reason-waited-in-vain = loa bận suốt { $span } chương trình được phép chờ
reason-clock-jumped = đồng hồ của máy nhảy vượt qua giờ phát, từ { $from } đến { $to }
reason-content-missing = thiếu: { $list }
reason-item-failed = không phát được { $item } ({ $error })
reason-shutdown = dừng vì chương trình phát thanh trên máy tắt
reason-stopped-by-operator = đã dừng trên máy này
reason-stopped-by-district = cấp trên cho dừng
reason-cut-by = bị { $programme } ngắt và không phát tiếp
reason-output-failed = card âm thanh hỏng ({ $error })
reason-nothing-aired = không phát được gì
reason-power-cut = máy dừng giữa chừng (mất điện hoặc lỗi)
missing-not-held = bản tin { $bulletin } chưa về máy này
missing-expired = bản tin { $bulletin } đã hết hạn lúc { $at }
missing-deleted-unused = bản tin { $bulletin } đã bị xoá khỏi máy vì không dùng đến
missing-not-arrived = bản tin { $bulletin } chưa tải xong ({ $held }/{ $chunks } phần)
missing-file-gone = tệp { $file } không còn trên máy
problem-programme = { $programme }: { $outcome }, { $reasons }
problem-programme-bare = { $programme }: { $outcome }
problem-not-saved = không ghi được vào bộ nhớ của máy (đầy?): { $error }
problem-clock-back = đồng hồ của máy bị chỉnh lùi { $span }
problem-clock-forward = đồng hồ của máy bị chỉnh tiến { $span }
