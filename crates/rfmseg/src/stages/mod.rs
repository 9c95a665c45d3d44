//! The pipeline's steps, one module each, beside its SQL file in `sql/` (loaded with
//! `include_str!`, its `{{parameters}}` bound from [`Config`](crate::Config)). A stage
//! takes named tables on the session and registers named tables; it runs its SQL only
//! through [`crate::exec`], so it runs the same embedded and on a cluster.
//!
//! In flow order: [`clean`] (lake -> cleaned, with the data-quality table), [`purchases`],
//! [`rfm`] (the window, R/F/M per customer, the scaled model inputs), [`scores`] (R/F/M
//! scores and RFM segments), [`kmeans`] (the k sweep and the final fit), [`labels`]
//! (customers -> clusters -> names, by the rules in [`segments`]), [`report_data`] (the
//! report's numbers).

pub mod clean;
pub mod clv;
pub mod cohorts;
pub mod kmeans;
pub mod labels;
pub mod migration;
pub mod price_bands;
pub mod purchases;
pub mod report_data;
pub mod rfm;
pub mod scores;
pub mod segments;

pub use clean::{
    ITEM_DROP_REASONS, REVIEW_DROP_REASONS, REVIEWS_PER_PASS, ReviewPasses, clean, clean_items,
    clean_reviews, clean_reviews_in, review_passes,
};
