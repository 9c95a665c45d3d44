//! The small vocabulary the generator writes reviews and catalogue entries from.
//!
//! Every string is stored already JSON-escaped (`\"`, `\n`, `\u00e9`), so the writer copies
//! bytes without escaping them again. A few entries carry the variants that trip readers:
//! escaped quotes, `<br />`, raw UTF-8 (é, ★, ½), and a `\u00e9` escape.

/// Review sentences for ratings 4 and 5.
pub(crate) const POSITIVE: &[&str] = &[
    "Works great with my laptop and the setup took less than a minute.",
    "Exactly as described, well packaged and it arrived two days early.",
    "The sound is clear and the bass is surprisingly strong for the size.",
    "Battery life is excellent, I charge it maybe once a week.",
    "Plugged it in and it just worked, no drivers needed.",
    "Build quality feels solid and the buttons have a nice click.",
    "I bought a second one for my office because the first one was so good.",
    "Great value for the money, it does everything the expensive brands do.",
    "Pairing with my phone was instant and it remembers the connection.",
    "The picture is sharp and the colors look natural.",
    "Fits perfectly and the cable is long enough to reach the desk.",
    "My son uses it every day for school and it has held up well.",
    r#"Charges my phone fast, the \"fast charge\" claim is accurate."#,
    "Much better than the one that came with the TV.",
    "Compact, light and it fits in my bag without any trouble.",
    "Customer service replaced a missing part without any questions.",
    "★★★★★ would buy again.",
    "Setup was easy, even my grandmother figured it out.",
    "Perfect for the café where I work, nobody complains about the music anymore.",
    "The range is impressive, it works from the other end of the house.",
    "Installed it in my car in ten minutes and it works flawlessly.",
    "Keeps a steady connection, no dropouts in three months of use.",
    "Honestly one of the best purchases I have made this year.",
    "Quiet, cool and fast, exactly what I needed for backups.",
    "The case protects the phone well and does not add much bulk.",
    "Works with Windows, Mac and my old Chromebook.",
    "Clear instructions and all the screws were included.",
];

/// Review sentences for ratings 1 and 2.
pub(crate) const NEGATIVE: &[&str] = &[
    "Stopped charging after two weeks and the seller never answered.",
    "Died after a month of light use.",
    "The sound is tinny and the volume is too low even at maximum.",
    "Does not work with my laptop despite what the listing says.",
    "Arrived with a cracked screen and the box had clearly been opened.",
    "The cable is a bit short and the connector feels loose.",
    "Overheats after an hour and then shuts down on its own.",
    r#"Returned it, the \"HD\" picture is blurry and washed out."#,
    "Bluetooth keeps disconnecting every few minutes.",
    "Cheap plastic, one of the clips broke the first time I used it.",
    "Not worth the money, the old one I replaced was better.",
    "The battery drains overnight even when it is switched off.",
    "Missing the power adapter, which is not mentioned anywhere.",
    "Worked fine for a while, then started making a buzzing noise.",
    "The app is useless and asks for permissions it does not need.",
    "Received a used unit with someone else’s files still on it.",
];

/// Review sentences for rating 3 (and mixed feelings anywhere).
pub(crate) const NEUTRAL: &[&str] = &[
    "It is OK for the price but do not expect miracles.",
    r#"Sound is fine, \"bass\" is weak."#,
    "Does the job, although the manual could be clearer.",
    "Works, but it gets warm after long use.",
    "The design is nice but the buttons are hard to find in the dark.",
    "Decent product, shipping took longer than promised.",
    "Not bad, not great, it does what it says.",
    "A bit bulky, though the performance is acceptable.",
    "Good enough for a spare, I would not use it as my main one.",
    "The résumé of this thing: cheap, cheerful and a little flimsy.",
];

/// Sentences that fit any rating.
pub(crate) const GENERIC: &[&str] = &[
    "I have been using it for about three weeks now.",
    "Bought this to replace an older model that finally gave up.",
    "My wife uses it mostly for video calls.",
    "I use it with a 27 inch monitor and a docking station.",
    "Update: still working after six months.",
    "The packaging was minimal, which I appreciate.",
    "It came with a short USB-C cable and a quick start card.",
    "For reference, I am using it with an iPhone 13 and a Pixel 6.",
    "The light on the front is quite bright at night.",
    "I ordered the black one and it matches my setup.",
    r"Took it on a trip to Montr\u00e9al and it survived the cold.",
    "Size is roughly ½ of what I expected from the photos.",
];

/// Paragraph breaks between sentences, as found in real review text.
pub(crate) const BREAKS: &[&str] = &["<br />", "<br /><br />", "\\n", "\\n\\n"];

pub(crate) const TITLES_POSITIVE: &[&str] = &[
    "Five Stars",
    "Works great",
    "Great product",
    "Excellent value",
    "Love it",
    "Exactly what I needed",
    "Works great with my laptop",
    "Highly recommend",
    "Solid build, great sound",
    "Better than expected",
    "Good",
    "Perfect",
    "Does the job well",
    "Four Stars",
];

pub(crate) const TITLES_NEGATIVE: &[&str] = &[
    "One Star",
    "Stopped charging",
    "Stopped working after a month",
    "Do not buy",
    "Returned it",
    "Junk",
    "Not as described",
    "Disappointed",
    "Two Stars",
    "Broke quickly",
];

pub(crate) const TITLES_NEUTRAL: &[&str] = &[
    "OK for the price",
    "Three Stars",
    "It works",
    "Decent",
    "Mixed feelings",
    "Average",
];

/// Store names (and the brand in titles).
pub(crate) const BRANDS: &[&str] = &[
    "Anker",
    "Sony",
    "Fat Shark",
    "Logitech",
    "Samsung",
    "SanDisk",
    "Belkin",
    "Amazon Basics",
    "JBL",
    "Bose",
    "TP-Link",
    "Sabrent",
    "UGREEN",
    "Generic",
    "Canon",
    "Nikon",
    "Panasonic",
    "Kingston",
    "Western Digital",
    "Seagate",
    "Netgear",
    "Razer",
    "Corsair",
    "HP",
    "Dell",
    "Lenovo",
    "Apple",
    "Otterbox",
    "Spigen",
    "Pioneer",
    "Garmin",
    "Monster",
    "Skullcandy",
    "Audio-Technica",
    "Sennheiser",
    "Cable Matters",
    "Mpow",
    "Tendak",
];

/// Product nouns for titles; a few carry an escaped inch mark.
pub(crate) const PRODUCTS: &[&str] = &[
    "USB-C Hub 7-in-1",
    "Wireless Earbuds",
    "Bluetooth Speaker",
    "HDMI Cable 6ft",
    r#"15.6\" Laptop Sleeve"#,
    "Mirrorless Camera Body",
    "Portable SSD 1TB",
    "microSD Card 128GB",
    "Wireless Mouse",
    "Mechanical Keyboard",
    "Noise Cancelling Headphones",
    "Car Phone Mount",
    "Dash Cam 1080p",
    "Surge Protector Power Strip",
    "Wi-Fi Range Extender",
    "Smart Watch Band",
    "Phone Case",
    "Screen Protector 3-Pack",
    "AA Rechargeable Batteries 8-Pack",
    "Soundbar with Subwoofer",
    "Webcam 1080p",
    "Ethernet Cable Cat 6",
    r#"Tripod 60\""#,
    "FPV Headset",
    "Wall Charger 65W",
    "Lightning Cable 2-Pack",
    "Streaming Media Player",
    "Over-Ear Headphones",
    "Walkie Talkies",
    "Label Printer",
];

/// Title suffixes: colour, model year, a compatibility note.
pub(crate) const TITLE_SUFFIXES: &[&str] = &[
    ", Black",
    ", White",
    " (Renewed)",
    " - 2022 Model",
    ", Compatible with iPhone and Android",
    " for MacBook Pro/Air",
    ", Blue",
    " with Carrying Case",
];

pub(crate) const FEATURES: &[&str] = &[
    "4K HDMI",
    "100W PD",
    "Up to 30 hours of playtime",
    "IPX7 waterproof",
    "Plug and play, no driver needed",
    "Compatible with Windows, macOS and Linux",
    "Aluminum alloy housing",
    "Includes 2 USB-C cables",
    "Active noise cancellation",
    "18-month warranty and friendly customer service",
    "Ultra-compact design fits in your pocket",
    "Dual-band 2.4GHz and 5GHz",
    "Read speeds up to 1,050MB/s",
    "Built-in microphone for hands-free calls",
];

pub(crate) const DESCRIPTIONS: &[&str] = &[
    "A compact hub.",
    "The perfect companion for work and travel.",
    "Product Description<br />Designed for everyday use.",
    "From the manufacturer: reliable performance you can count on.",
    "Note: power adapter not included.",
    "Enjoy rich sound wherever you go.",
];

/// `categories` paths for electronics items, already written as JSON lists.
pub(crate) const CATEGORY_PATHS: &[&str] = &[
    r#"["Electronics", "Computers & Accessories", "Computer Accessories & Peripherals"]"#,
    r#"["Electronics", "Headphones, Earbuds & Accessories", "Headphones", "Earbud Headphones"]"#,
    r#"["Electronics", "Cell Phones & Accessories", "Cases, Holsters & Sleeves"]"#,
    r#"["Electronics", "Camera & Photo", "Accessories"]"#,
    r#"["Electronics", "Television & Video", "Video Glasses"]"#,
    r#"["Electronics", "Accessories & Supplies", "Cables", "USB Cables"]"#,
    r#"["Electronics", "Car & Vehicle Electronics", "Car Electronics"]"#,
    r#"["Electronics", "Portable Audio & Video", "Portable Bluetooth Speakers"]"#,
    r#"["Electronics", "Home Audio", "Speakers"]"#,
    r#"["Electronics", "Computers & Accessories", "Data Storage", "USB Flash Drives"]"#,
    r#"["Electronics", "Wearable Technology", "Smartwatches"]"#,
    r#"["Electronics", "Computers & Accessories"]"#,
];

pub(crate) const COLORS: &[&str] = &["Black", "White", "Silver", "Blue", "Space Gray", "Red"];

pub(crate) const PORTS: &[&str] = &["HDMI", "USB-A", "USB-C", "Ethernet", "SD", "3.5mm"];

pub(crate) const CONNECTIVITY: &[&str] = &["Bluetooth", "USB", "Wi-Fi", "Wired", "NFC"];

pub(crate) const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) const VIDEO_TITLES: &[&str] = &[
    "Unboxing",
    "Product overview",
    "How to set up",
    "Honest review after 30 days",
];

pub(crate) const RATING_WORDS: &[&str] = &["zero", "one", "two", "three", "four", "five"];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entry is copied into a JSON string as is, so each must already be valid JSON
    /// string content: a stray `"` or a lone backslash would break every line it lands in.
    #[test]
    fn every_entry_is_valid_json_string_content() {
        let lists: &[&[&str]] = &[
            POSITIVE,
            NEGATIVE,
            NEUTRAL,
            GENERIC,
            BREAKS,
            TITLES_POSITIVE,
            TITLES_NEGATIVE,
            TITLES_NEUTRAL,
            BRANDS,
            PRODUCTS,
            TITLE_SUFFIXES,
            FEATURES,
            DESCRIPTIONS,
            COLORS,
            PORTS,
            CONNECTIVITY,
            MONTHS,
            VIDEO_TITLES,
            RATING_WORDS,
        ];
        for list in lists {
            for s in *list {
                let quoted = format!("\"{s}\"");
                assert!(
                    serde_json::from_str::<String>(&quoted).is_ok(),
                    "not JSON string content: {s}"
                );
            }
        }
        for path in CATEGORY_PATHS {
            assert!(serde_json::from_str::<Vec<String>>(path).is_ok(), "{path}");
        }
    }

    /// Review text must reach 20 characters with one sentence.
    #[test]
    fn sentences_are_at_least_twenty_bytes() {
        for s in POSITIVE
            .iter()
            .chain(NEGATIVE)
            .chain(NEUTRAL)
            .chain(GENERIC)
        {
            assert!(s.len() >= 20, "{s}");
        }
    }
}
