"""Synthetic broadcast frames shared by the generators: the pitch rendered through random cameras."""
