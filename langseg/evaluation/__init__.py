from .flops import count_segmentor, flop_analysis

__all__ = ['count_segmentor', 'flop_analysis']
