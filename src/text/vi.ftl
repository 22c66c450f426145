# What the box's commands say to the commune's operator (cán bộ đài truyền thanh xã).
# Plain words: no field names, no units of the sound trade. Times are HH:MM, days dd/mm/yyyy.

error = Lỗi: { $reason }
cli-unknown-command = không có lệnh “{ $name }”
cli-unknown-option = lệnh này không có tuỳ chọn “{ $arg }”
cli-unexpected-word = thừa “{ $arg }{ $value }”: lệnh này không cần thêm chữ đó
cli-missing-value = { $arg } cần một giá trị ngay sau nó
cli-value-not-among = “{ $value }” không dùng được cho { $arg }; hãy chọn một trong: { $valid }
cli-bad-value = “{ $value }” không dùng được cho { $arg }
cli-conflict = không dùng { $arg } cùng với { $prior }
cli-missing-argument = còn thiếu: { $arg }
cli-missing-command = cần ghi thêm một lệnh: { $valid }
cli-not-utf8 = lệnh có ký tự không đọc được (không phải UTF-8)
cli-mistyped = lệnh viết sai
cli-did-you-mean = Có phải ý bạn là “{ $suggestion }”?
cli-more = Muốn xem hướng dẫn, thêm --help vào cuối lệnh.
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
refusal-nothing-on-air = lúc này không có gì đang phát.
refusal-no-such-programme = trên máy không có chương trình “{ $id }” (xem: loaxa program list).
refusal-id-taken = lịch đã có chương trình mang mã “{ $id }”; hãy chọn mã khác bằng --id.
refusal-outside-windows = bây giờ ({ $time }) ngoài giờ được phát ({ $windows }); ngoài giờ chỉ phát tin khẩn cấp (--priority emergency).
refusal-not-aired = không phát được: { $reasons }.
refusal-permission = người dùng { $uid } không được điều khiển máy phát thanh; cần thuộc nhóm { $group } (sudo adduser TÊN { $group }, rồi đăng nhập lại).
refusal-busy = máy phát thanh đang bận trả lời nhiều yêu cầu; hãy thử lại sau vài giây.
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
program-column-title = Tên
program-column-airs = Phát
program-column-when = Giờ phát
when-daily = { $time } hằng ngày
when-cron = theo lịch cron { $cron }
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
demo-where = Hãy chạy `loaxa demo` trong thư mục mã nguồn loaxa: cần có schedules/ và audio/ (đang ở { $dir }).
demo-no-sound-card = Máy này không có card âm thanh; chương trình được ghi vào { $wav }.
demo-box = Cụm loa thử ở { $dir }: chương trình thử phát lúc { $start } ({ $zone }).
demo-audio-written = Âm thanh đã ghi vào { $wav } (mốc thời gian: { $timeline }).
demo-as-run = Nhật ký phát thanh:

# The one-line summaries of `loaxa --help` and `loaxa COMMAND --help`.
help-loaxa = Máy phát thanh của cụm loa xã: phát lịch đúng giờ, cả khi mất mạng
help-daemon = Chạy dịch vụ phát thanh: phát các lịch đúng giờ (SIGTERM dừng, SIGHUP nạp lại lịch)
help-demo = Phát thử một chương trình sau vài giây, với thư mục schedules/ và audio/ đi kèm
help-validate = Kiểm tra tệp lịch (mặc định: thư mục lịch của máy): báo từng lỗi, với tệp, dòng và chỗ sai
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

# A schedule's problems (`validate`, `program add`): where, then what.
where-file-line = { $file }, dòng { $line }
field-timezone = múi giờ (timezone)
field-programme = chương trình “{ $programme }”
field-programme-key = chương trình “{ $programme }”, mục { $key }
field-programme-member = chương trình “{ $programme }”, mục { $key } thứ { $n }
field-unnamed = chương trình thứ { $n } trong tệp
field-unnamed-key = chương trình thứ { $n } trong tệp, mục { $key }
field-exception = ngoại lệ thứ { $n }
field-exception-key = ngoại lệ thứ { $n }, mục { $key }
field-exception-member = ngoại lệ thứ { $n }, mục { $key } thứ { $m }
toml-unknown-key = không có mục “{ $key }” ở đây (viết sai tên?); các mục dùng được: { $known }
toml-unknown-key-none = không có mục “{ $key }” ở đây (viết sai tên?)
toml-missing-key = thiếu mục “{ $key }”
toml-wrong-kind = “{ $key }” phải là { $expected }, ở đây lại là { $found }: { $written }
toml-wrong-kind-unkeyed = chỗ này phải là { $expected }, ở đây lại là { $found }: { $written }
toml-unknown-choice = “{ $key }” chỉ nhận { $choices }, không nhận “{ $value }”
toml-duplicate-key = mục “{ $key }” bị viết hai lần
toml-duplicate-key-unnamed = một mục bị viết hai lần
toml-bad-text = chữ trong ngoặc kép viết sai hoặc thiếu dấu ngoặc đóng
toml-unquoted-text = giá trị chữ phải đặt trong ngoặc kép, như id = "tin-sang"
toml-missing-equals = thiếu dấu = giữa tên mục và giá trị, như title = "Bản tin sáng"
toml-bad-header = tiêu đề bảng viết sai; hãy viết [[program]] hoặc [[exception]]
toml-bad-list = danh sách viết sai: đặt trong [ ], các phần cách nhau bằng dấu phẩy, như ["a.mp3", "b.mp3"]
toml-bad-boolean = chỉ viết được true (có) hoặc false (không)
toml-bad-number = số viết sai; hãy viết như 30 hoặc 0.8
toml-bad-date-time = ngày giờ viết sai
toml-other = viết sai cú pháp
toml-as-written = { $problem } (dòng này viết: { $written })
toml-kind-text = chữ trong ngoặc kép
toml-kind-whole-number = số nguyên
toml-kind-number = số
toml-kind-boolean = true hoặc false
toml-kind-list = danh sách trong [ ]
toml-kind-table = bảng
toml-kind-date-time = ngày giờ không có ngoặc kép
toml-kind-unnamed = giá trị khác
fault-cannot-read = không đọc được tệp: { $error }
fault-cannot-read-directory = không đọc được thư mục lịch: { $error }
fault-unknown-timezone = không biết múi giờ “{ $name }” (hãy viết như Asia/Ho_Chi_Minh)
fault-id-twice = mã chương trình này bị dùng hai lần trong tệp
fault-id-used-in = mã chương trình này đã dùng trong { $file }
fault-bad-id = “{ $id }” không dùng làm mã được: mã chỉ gồm chữ không dấu, số và các dấu - _ . (tối đa 64 ký tự), như tin-sang
fault-missing-id = thiếu mã chương trình (id)
fault-volume = âm lượng { $value } không hợp lệ: hãy ghi từ 0.0 đến 1.0
fault-when-busy = “{ $text }” không hợp lệ: hãy ghi "cut" (ngắt chương trình đang phát), "next" (chờ đến lượt) hoặc "wait N" (chờ tối đa N phút, 1–1440)
fault-local-emergency = chỉ cấp trên mới được đặt lịch khẩn cấp; muốn cho phép trên máy, cấu hình phải có emergency = true trong [local]
fault-until-before-from = ngày hết hạn { $until } trước ngày bắt đầu { $from }
fault-no-times = chưa ghi giờ phát nào
fault-not-a-local-time = “{ $text }” không phải giờ phát; hãy viết như 2026-11-25T07:00:00
fault-cron-and-at = có cả cron và at; chỉ dùng một trong hai
fault-neither-cron-nor-at = chưa có giờ phát: cần cron (lặp lại) hoặc at (từng lần)
fault-outside-windows = phát lúc { $time }, ngoài giờ được phát ({ $windows }); ngoài giờ chỉ phát tin khẩn cấp
fault-only-for-relay = chỉ dùng khi tiếp sóng (relay = "http://…")
fault-missing-items = chưa ghi nội dung phát (items, hoặc relay để tiếp sóng)
fault-nothing-to-air = danh sách nội dung phát đang trống
fault-relay-and-items = có cả relay và items; chỉ dùng một (nội dung dự phòng khi mất sóng ghi ở fallback)
fault-bad-relay-url = địa chỉ tiếp sóng “{ $url }” không dùng được: { $reason }
fault-relay-minutes = thời lượng { $value } phút không hợp lệ: phải lớn hơn 0 và không quá 720 (12 giờ)
fault-relay-minutes-required = cần ghi thời lượng tiếp sóng (duration_minutes, số phút)
fault-skip-and-only = có cả skip và only; chỉ dùng một
fault-neither-skip-nor-only = cần skip (các chương trình nghỉ) hoặc only (chỉ các chương trình được phát)
fault-no-such-programme = tệp không có chương trình “{ $id }”
fault-not-a-date = “{ $text }” không phải ngày; hãy viết như 2026-12-31
fault-loading-crashed = đọc lịch bị lỗi giữa chừng
fault-never-fires = dòng cron “{ $expr }” không bao giờ đến: không tháng nào có ngày đó
fault-all-times-past = mọi giờ phát đều đã qua (giờ cuối là { $last }); chương trình sẽ không phát
fault-no-times-will-not-air = chưa ghi giờ phát nào; chương trình sẽ không phát
fault-valid-until-past = đã hết hạn từ { $until }; chương trình sẽ không phát nữa
fault-nothing-due = trong tám năm tới không có lần phát nào; chương trình sẽ không phát
item-bad-bulletin-id = “{ $id }” không phải mã bản tin hợp lệ
item-bad-path = “{ $name }” không phải đường dẫn tệp âm thanh (trống, hoặc dùng `..` để ra ngoài thư mục)
item-absolute-path = “{ $name }” là đường dẫn tuyệt đối; { $rule } ({ $dir })
item-no-such-file = không có tệp âm thanh { $path }
item-outside-media = { $why }; { $rule }
item-audio = tệp không phát được: { $error }
rule-district-files = lịch của cấp trên chỉ được dùng tệp trong thư mục âm thanh
rule-local-files = lịch trên máy chỉ được dùng tệp trong thư mục âm thanh, trừ khi cấu hình đặt files_anywhere = true trong [local]
cron-second = giây
cron-minute = phút
cron-hour = giờ
cron-day-of-month = ngày
cron-month = tháng
cron-day-of-week = thứ
cron-field-count = dòng cron cần 5 phần (phút giờ ngày tháng thứ), có { $found }
cron-year-field = dòng cron có 7 phần; phần năm ở cuối là kiểu Quartz, cron chỉ cần 5 phần (phút giờ ngày tháng thứ)
cron-reboot = @reboot không dùng cho lịch phát; hãy ghi giờ như @daily hoặc `0 6 * * *`
cron-unknown-macro = không biết `{ $name }`; hãy dùng @yearly, @monthly, @weekly, @daily, @midnight hoặc @hourly
cron-text-after-macro = sau { $name } còn thừa `{ $extra }`; { $name } phải đứng một mình
cron-quartz = { $field } `{ $token }` là kiểu Quartz, cron không hiểu
cron-empty-item = { $field } có một mục trống trong `{ $token }`
cron-invalid-item = { $field } `{ $token }` không phải số, khoảng hay bước
cron-not-a-number = { $field } “{ $token }” không phải số
cron-out-of-range = { $field } { $token } không hợp lệ: { $field } phải từ { $min } đến { $max }
cron-backwards = khoảng { $field } { $token } bị ngược
cron-step-not-a-number = bước { $field } “{ $token }” không phải số
cron-step-out-of-range = bước { $field } { $token } không hợp lệ: phải từ 1 đến { $max }
