"""Research: news feeds, relevance scoring, content ideas and trending keywords."""
