"""A synthetic SoccerNet reid-2023 download: drawn players in the real layout."""
