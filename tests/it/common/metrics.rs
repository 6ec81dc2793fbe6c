//! The front's `/metrics` as an operator scrapes it.

use super::TestApp;

impl TestApp {
    /// The front's metrics text. A connection of its own each time: a pooled one may have been
    /// closed for idleness meanwhile.
    pub async fn metrics_text(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics_address);
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), 200, "the front's /metrics");
        response.text().await.unwrap()
    }

    /// One series' value (`name` with its labels, as printed), `None` when never recorded.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.metrics_text().await;
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|value| value.trim().parse().unwrap())
    }
}
