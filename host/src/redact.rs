//! Credentials that operators put in URLs (`https://user:password@node/…`,
//! `…/rpc?apikey=…`) never leave the host: every URL and every error text that may
//! quote one goes through here before it reaches a log, an event or an API answer.

/// The URL without user-info and with any query string replaced: `https://***@node/rpc?***`.
pub fn url(url: &str) -> String {
    text(url)
}

/// `text` with the user-info of every URL in it and every query string masked.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority runs to the first '/', '?', '#' or character that ends a URL in prose.
        let end = after.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')' | ',' | ';')).unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("***@");
                out.push_str(&authority[i + 1..]);
            }
            None => out.push_str(authority),
        }
        let tail = &after[end..];
        // Path, then the query string (masked), up to where the URL ends.
        let url_end = tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')' | ',' | ';')).unwrap_or(tail.len());
        let in_url = &tail[..url_end];
        match in_url.find('?') {
            Some(q) => {
                out.push_str(&in_url[..q]);
                out.push_str("?***");
            }
            None => out.push_str(in_url),
        }
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_info_and_query_strings_are_masked() {
        assert_eq!(super::url("https://user:hunter2@node.example:8090/rpc?apikey=s3cret"), "https://***@node.example:8090/rpc?***");
        assert_eq!(super::url("http://127.0.0.1:8090/"), "http://127.0.0.1:8090/");
        let t = super::text("http://a:pw@h/: Connection Failed; https://h2/x?k=v, done");
        assert_eq!(t, "http://***@h/: Connection Failed; https://h2/x?***, done");
        assert!(!t.contains("pw") && !t.contains("k=v"));
    }
}
