
order_12345	€œ€¢Ð32!https://shop.example.com/checkout8Bó
User@Example.com+1 (415) 555-2671customer_123"È˜tefÄƒnescu*O'Connor2@B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC1FFC5E475514ZCAb94107jSan FranciscorUSAz$38400000-8cf0-11bd-b23e-10b96e40000d‚obŠ2001:db8::1’Mozilla/5.0R2§usd(
sku_1A"product(0ç:eurB	
sizem