"""Tracking data shared by the trajectory models: SkillCorner matches through kloppy, windows, generator."""
