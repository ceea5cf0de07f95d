"""A synthetic SoccerNet tracking-2023 / gamestate-2024 download: drawn scenes in the real layouts."""
