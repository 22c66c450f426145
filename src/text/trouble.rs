//! Why a file could not be read or aired ([`loaxa_core::trouble`]), in the operator's words.

use loaxa_core::trouble::{AudioTrouble, FileTrouble, Position};

use super::{Words, arg};

/// What the file system said, as a phrase ("không có tệp này", "no such file").
pub fn file_words(trouble: &FileTrouble, words: &Words) -> String {
    match trouble {
        FileTrouble::Missing => words.t("trouble-file-missing"),
        FileTrouble::NotAllowed => words.t("trouble-file-not-allowed"),
        FileTrouble::WrongKind => words.t("trouble-file-wrong-kind"),
        FileTrouble::NotText => words.t("trouble-file-not-text"),
        FileTrouble::Other { error } => {
            words.t_args("trouble-file-other", &[("error", arg(error))])
        }
    }
}

/// Why an audio item cannot be aired, as a phrase.
pub fn audio_words(trouble: &AudioTrouble, words: &Words) -> String {
    let file =
        |id: &str, file: &FileTrouble| words.t_args(id, &[("why", arg(file_words(file, words)))]);
    match trouble {
        AudioTrouble::CannotOpen { file: f } => file("trouble-audio-cannot-open", f),
        AudioTrouble::CannotRead { file: f } => file("trouble-audio-cannot-read", f),
        AudioTrouble::Empty => words.t("trouble-audio-empty"),
        AudioTrouble::Unrecognised => words.t("trouble-audio-unrecognised"),
        AudioTrouble::NoAudioTrack => words.t("trouble-audio-no-audio-track"),
        AudioTrouble::NoAudio => words.t("trouble-audio-no-audio"),
        AudioTrouble::Corrupt { at_ms, .. } => {
            words.t_args("trouble-audio-corrupt", &[("at", arg(Position(*at_ms)))])
        }
        AudioTrouble::Convert { .. } => words.t("trouble-audio-convert"),
        AudioTrouble::Outside { .. } => words.t("trouble-audio-outside"),
        AudioTrouble::BulletinNotHeld { bulletin } => words.t_args(
            "trouble-audio-bulletin-not-held",
            &[("bulletin", arg(bulletin))],
        ),
        AudioTrouble::RelayFailed { fallback_aired, .. } => match fallback_aired {
            true => words.t("trouble-audio-relay-failed-fallback"),
            false => words.t("trouble-audio-relay-failed"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn every_trouble_is_said_in_vietnamese_without_the_decoders_english() {
        let words = Words::new(Lang::Vi).unwrap();
        let troubles = [
            AudioTrouble::CannotOpen {
                file: FileTrouble::Missing,
            },
            AudioTrouble::CannotRead {
                file: FileTrouble::NotAllowed,
            },
            AudioTrouble::Empty,
            AudioTrouble::Unrecognised,
            AudioTrouble::NoAudioTrack,
            AudioTrouble::NoAudio,
            AudioTrouble::Corrupt {
                at_ms: 83_450,
                error: "invalid main_data offset".into(),
            },
            AudioTrouble::Convert {
                error: "resampler: ratio".into(),
            },
            AudioTrouble::Outside {
                why: "x leads outside y".into(),
            },
            AudioTrouble::BulletinNotHeld {
                bulletin: "tin-sang".into(),
            },
            AudioTrouble::RelayFailed {
                error: "relay http://x: connection refused".into(),
                fallback_aired: true,
            },
        ];
        for trouble in &troubles {
            let said = audio_words(trouble, &words);
            assert!(!said.is_empty(), "{trouble:?}");
            for english in ["cannot", "corrupt", "error", "refused", "relay", "file"] {
                assert!(!said.contains(english), "{trouble:?} said as {said:?}");
            }
        }
        assert!(
            audio_words(&troubles[6], &words).contains("1:23.4"),
            "the place of the break is kept"
        );
    }
}
