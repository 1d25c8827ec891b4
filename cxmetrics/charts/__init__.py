"""One chart module per page (overview_charts, journey_charts, loyalty_charts,
accountability_charts, voc_charts), all in the look of chart_style."""
