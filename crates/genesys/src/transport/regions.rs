//! Where a Genesys org's API and login hosts are (reference/genesys-api.md §1).

/// The API hosts of the Genesys Cloud regions (reference/genesys-api.md §1).
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "api.mypurecloud.com"),
    ("eu-west-1", "api.mypurecloud.ie"),
    ("ap-southeast-2", "api.mypurecloud.com.au"),
    ("ap-northeast-1", "api.mypurecloud.jp"),
    ("eu-central-1", "api.mypurecloud.de"),
    ("us-west-2", "api.usw2.pure.cloud"),
    ("ca-central-1", "api.cac1.pure.cloud"),
    ("ap-northeast-2", "api.apne2.pure.cloud"),
    ("eu-west-2", "api.euw2.pure.cloud"),
    ("ap-south-1", "api.aps1.pure.cloud"),
    ("us-east-2", "api.use2.us-gov-pure.cloud"),
    ("sa-east-1", "api.sae1.pure.cloud"),
    ("me-central-1", "api.mec1.pure.cloud"),
    ("ap-northeast-3", "api.apne3.pure.cloud"),
    ("eu-central-2", "api.euc2.pure.cloud"),
    ("mx-central-1", "api.mxc1.pure.cloud"),
    ("ap-southeast-1", "api.apse1.pure.cloud"),
];

/// The API base URL of a region, e.g. `https://api.mypurecloud.ie`.
pub fn region_api_url(region: &str) -> Option<String> {
    REGIONS
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(region))
        .map(|(_, host)| format!("https://{host}"))
}

/// The login host of an API URL: `//api.` becomes `//login.` (the SDKs' rule); other hosts (an
/// emulator) are their own login host.
pub fn login_url_for(api_url: &str) -> String {
    api_url.replacen("//api.", "//login.", 1)
}
