#!/bin/sh
# Regenerates the sample bulletins shipped in audio/ (they are committed; you only need this to change them).
# Needs espeak-ng (Vietnamese voice) and lame: apt-get install espeak-ng lame
set -eu
cd "$(dirname "$0")"
say() { # say FILE TEXT: Vietnamese speech, 64 kb/s mono MP3 at 22.05 kHz, the typical bulletin format
    espeak-ng -v vi -s 150 -w "$1.wav" "$2"
    lame --quiet -m m -b 64 --resample 22.05 "$1.wav" "$1.mp3"
    rm "$1.wav"
}
say ban-tin-sang "Đài truyền thanh xã xin kính chào quý vị và các bạn. Sau đây là bản tin buổi sáng. Ủy ban nhân dân xã thông báo lịch làm việc trong tuần. Đề nghị bà con nhân dân chú ý theo dõi."
say tiem-chung "Thông báo về ngày tiêm chủng. Trạm y tế xã tổ chức tiêm chủng mở rộng cho trẻ em dưới năm tuổi vào ngày hai mươi lăm tháng mười một. Đề nghị các gia đình đưa trẻ đến đúng giờ."
say thong-bao-demo "Đây là chương trình thử nghiệm của hệ thống loa xã."
