"""One view module per page, the numbers each page shows: overview (with first_screen
and overview_links), journey_view, loyalty, accountability, voc_view; finder (every
finding of a view), links to a filtered view and wording. Imports the layers above."""
