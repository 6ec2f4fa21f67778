//! JSON Web Tokens: the claims template (payload rendering that keyword values cannot
//! restructure) and the HS256 signer, decoder and verifier. Pure: no I/O.

pub mod claims;

pub use claims::{ClaimsError, ClaimsTemplate};
